"""`push_to_hub`: upload a finished training folder, model card included, to the Hugging Face Hub.

The upload happens once, after the folder is complete (never a half-written folder, never the working
checkpoints), with `huggingface_hub`'s `create_repo` + `upload_folder`. A run that cannot reach the Hub is refused
before training starts (`HF_HUB_OFFLINE` set), and an upload that fails at the end leaves the trained folder in place
and says how to upload it again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..config import BOOL_WORDS
from ..errors import ConfigError, SentinelError

logger = logging.getLogger(__name__)
LEFT_OUT = ["checkpoints/**", "checkpoint-last/**", "*.tmp"]  # working state, not the model


def hub_offline() -> bool:
    return any(BOOL_WORDS.get(os.environ.get(v, "").lower(), False) for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def repo_id_for(hub_model_id: str | None, output_dir: str) -> str:
    """The Hub repo: `hub_model_id`, else the output folder's name (under the logged-in account)."""
    return hub_model_id or Path(output_dir).resolve().name


def check_push(push_to_hub: bool, hub_model_id: str | None) -> None:
    """Before training: a run that is to be pushed must be able to reach the Hub."""
    if push_to_hub and hub_offline():
        raise ConfigError("needs the Hugging Face Hub, but HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set; unset "
                          "it, or train without push_to_hub and upload the folder later", field="push_to_hub")
    if hub_model_id and not push_to_hub:
        logger.warning("hub_model_id is set but push_to_hub is not: nothing will be uploaded")


def push_folder(folder: str | Path, repo_id: str, private: bool | None = None) -> str:
    """Create `repo_id` if needed and upload `folder` to it; the commit's URL. SentinelError if the upload fails,
    naming the local folder that holds the model."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        repo = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(folder_path=str(folder), repo_id=getattr(repo, "repo_id", repo_id),
                                   repo_type="model", ignore_patterns=LEFT_OUT,
                                   commit_message="Upload model trained with sentinel-rlhf")
    except Exception as e:  # network, auth, quota: the trained folder stays; say how to retry
        raise SentinelError(f"could not upload {folder} to the Hub repo {repo_id!r}: {e}. The model is saved in "
                            f"{folder}; upload it later with `hf upload {repo_id} {folder}`") from e
    url = str(getattr(commit, "commit_url", "") or f"https://huggingface.co/{repo_id}")
    logger.info("pushed %s to %s", folder, url)
    return url
