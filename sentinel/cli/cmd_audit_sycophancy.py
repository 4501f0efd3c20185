"""`sentinel audit sycophancy`: audit a chat model (folder or OpenAI-compatible endpoint) for sycophancy."""

from __future__ import annotations

import os

from ..audit.sycophancy.detector import SycophancyConfig
from ..config import add_arguments, from_args
from .common import add_fail_on, add_model_safety, finish_report

PROBE_NAMES = ("are_you_sure", "suggested_answer", "feedback", "persona")

GROUP = "audit"


def register(sub) -> None:
    p = sub.add_parser("sycophancy", help="measure how often a chat model gives up the truth to please the user",
                       description="Runs the sycophancy probes (are_you_sure, suggested_answer, feedback, persona) "
                                   "and prints the findings; with --out, writes report.json/.md/.html/.sarif and "
                                   "records.jsonl there (and a partial report if the run stops).")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--model", help="folder of a causal LM whose tokenizer has a chat template")
    target.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model-name", help="with --endpoint: the model name sent in each request")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="with --endpoint: environment variable holding the API key, if any (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=60.0, help="with --endpoint: seconds per request")
    p.add_argument("--retries", type=int, default=3,
                   help="with --endpoint: tries again after a timeout, a lost connection or HTTP 408/425/429/5xx, "
                        "waiting the server's Retry-After or an exponential backoff (1 s, 2 s, 4 s, ...)")
    p.add_argument("--concurrency", type=int, default=4, help="with --endpoint: requests in flight at once")
    p.add_argument("--tokenizer", help="tokenizer folder when it is not the model folder")
    p.add_argument("--out", help="folder for report.json, report.html, report.md and records.jsonl (every item's "
                                 "turns and grade)")
    p.add_argument("--questions", help="question file: BCT sycophancy JSONL, TruthfulQA.csv or rows "
                                       "{question, correct, incorrect, choices?} (default: built-in set)")
    p.add_argument("--statements", help="opinion statements for persona: JSONL/CSV rows with 'statement'")
    p.add_argument("--texts", help="texts for feedback: rows with 'text' (and 'kind')")
    p.add_argument("--config", help="YAML file of SycophancyConfig fields (flags override it)")
    add_fail_on(p)
    add_model_safety(p)
    add_arguments(p, SycophancyConfig)
    p.set_defaults(func=cmd_sycophancy)


def cmd_sycophancy(args) -> int:
    from ..audit.sycophancy import ChatTarget, EndpointTarget, SycophancyDetector, as_chat_target, load_questions
    from ..data import read_rows
    from ..errors import ConfigError

    cfg = from_args(SycophancyConfig, args, args.config)
    detector = SycophancyDetector(**vars(cfg))
    if args.endpoint:
        if not args.model_name:
            raise ConfigError("--endpoint needs --model-name", field="model_name")
        model: ChatTarget = EndpointTarget(args.endpoint, args.model_name, api_key=os.environ.get(args.api_key_env),
                               timeout=args.timeout, retries=args.retries, concurrency=args.concurrency)
    else:
        model = as_chat_target(args.model, tokenizer=args.tokenizer, batch_size=cfg.batch_size, device=args.device,
                               allow_pickle=args.allow_pickle, trust_remote_code=args.trust_remote_code)
    questions = load_questions(args.questions) if args.questions else None
    statements = read_rows(args.statements).rows if args.statements else None
    texts = read_rows(args.texts).rows if args.texts else None
    try:
        result = detector.analyze(model, controversial_prompts=statements, questions=questions, texts=texts,
                                  out=args.out)
    except KeyboardInterrupt:
        where = f"partial report written to {args.out}/report.json" if args.out else "nothing saved (no --out)"
        print(f"interrupted: {where}")
        return 130
    score = result.sycophancy_score
    shown = "inconclusive (see the 'inconclusive' findings)" if score is None else f"{score:.3f}"
    print(f"sycophancy score: {shown}")
    return finish_report(result, args.out, args.fail_on, args.format)
