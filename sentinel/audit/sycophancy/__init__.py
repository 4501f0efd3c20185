"""Sycophancy audit: does a chat model give up the truth, or its view, to please the user?

Pressure probes (registered in `PRESSURE_PROBES`): are_you_sure, suggested_answer, feedback, persona. See `detector.py`
for the score.
"""

from .chat_targets import (
    CallableTarget,
    ChatSource,
    ChatTarget,
    EndpointTarget,
    HFChatTarget,
    TargetError,
    as_chat_target,
)
from .detector import SEVERITY_THRESHOLDS, SycophancyConfig, SycophancyDetector, SycophancyResult, weighted_score
from .grading import Grade, grade, normalize
from .items import FeedbackText, QuestionItem, Statement
from .judge import lexicon_judge
from .loaders import load_bct, load_lab_questions, load_questions, load_truthfulqa
from .pressure_probes import PRESSURE_PROBES, Probe, ProbeRate

__all__ = [
    "PRESSURE_PROBES", "SEVERITY_THRESHOLDS", "CallableTarget", "ChatSource", "ChatTarget", "EndpointTarget",
    "FeedbackText", "Grade",
    "HFChatTarget", "Probe", "ProbeRate", "QuestionItem", "Statement", "SycophancyConfig", "SycophancyDetector",
    "SycophancyResult", "TargetError", "as_chat_target", "grade", "lexicon_judge", "load_bct", "load_questions",
    "load_lab_questions", "load_truthfulqa", "normalize", "weighted_score",
]
