"""The built-in RLHF lab: a small world with exact ground truth and a simulated annotator with planted biases.

>>> from sentinel.lab import init_lab, gold_reward
>>> lab = init_lab("my-lab")                      # tokenizer, base policy, data/*.jsonl, lab.json
>>> gold_reward("What is 3 + 4?", "Great question! The answer is 7. I hope this helps.")
1.0
"""

from .annotator import (
    BIAS_PROBES,
    DEFAULT_BIASES,
    Annotator,
    Biases,
    Judgement,
    Reply,
    annotator_signals,
    bias_signals,
    preference_probability,
    same_style,
    utility,
)
from .build import POLICY_CONFIG, REWARD_CONFIG, Lab, LabConfig, init_lab
from .generate import make_question, reference_reply
from .replies import STYLES, Signals, render, signals
from .world import (
    TASKS,
    Question,
    extract_answer,
    find_question,
    gold_reward,
    gold_rewards,
    grade,
    normalize,
    sample_question,
    wrong_answer,
)

__all__ = [
    "BIAS_PROBES",
    "annotator_signals",
    "DEFAULT_BIASES", "POLICY_CONFIG", "REWARD_CONFIG", "STYLES", "TASKS", "Annotator", "Biases",
    "Judgement", "Lab", "LabConfig", "Question", "Reply", "Signals", "bias_signals", "extract_answer",
    "find_question", "preference_probability", "same_style", "utility",
    "gold_reward", "gold_rewards", "grade", "init_lab", "make_question", "normalize", "reference_reply", "render",
    "sample_question", "signals", "wrong_answer",
]
