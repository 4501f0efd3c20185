"""Task-specific fine-tuning of an encoder: sequence classification, NER (BIO tags) and extractive QA.

    from sentinel.train.tasks import ClassifyConfig, classify
    result = classify(ClassifyConfig(train_file="sst2.tsv", eval_fraction=0.2, output_dir="out/sst2"))
    result.metrics["eval_accuracy"]

Each run writes the Hugging Face model folder, metrics.jsonl, config.yaml, data_summary.json and eval.json.
"""

from .classify import classify
from .configs import ClassifyConfig, NERConfig, QAConfig, TaskConfig, default_encoder
from .ner import ner
from .qa import qa

__all__ = ["ClassifyConfig", "NERConfig", "QAConfig", "TaskConfig", "classify", "default_encoder", "ner", "qa"]
