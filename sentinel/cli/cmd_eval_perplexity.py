"""`sentinel eval perplexity MODEL DATA`: perplexity of a causal LM on documents (a file, a folder, a table)."""

from __future__ import annotations

from ..config import Switch

GROUP = "eval"


def register(sub) -> None:
    from .common import DefaultsFormatter, add_format, add_model_safety

    p = sub.add_parser("perplexity", help="perplexity of a causal LM on documents (sliding window)",
                       description=__doc__, formatter_class=DefaultsFormatter)
    p.add_argument("model", help="causal LM folder")
    p.add_argument("data", help="a text file, a folder of text files, or JSONL/CSV/Parquet/save_to_disk with a text "
                                "column")
    p.add_argument("--text-field", default="text", help="column holding the text in tables and datasets")
    p.add_argument("--include", default="*.txt,*.md", help="comma-separated file patterns read from a folder")
    p.add_argument("--exclude", default="", help="comma-separated file patterns left out of a folder")
    p.add_argument("--separator", default=None,
                   help="text that separates documents inside one text file; none: a file is one document")
    p.add_argument("--block-size", type=int, default=None,
                   help="tokens per window; none: the model's context, at most 1024")
    p.add_argument("--stride", type=int, default=None, help="tokens between windows; none: half the block")
    p.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    p.add_argument("--skip-invalid", action=Switch,
                   help="leave out empty or non-UTF-8 files and rows without text (listed) instead of stopping")
    add_format(p)
    add_model_safety(p)
    p.set_defaults(func=cmd_perplexity)


def cmd_perplexity(args) -> int:
    from ..data.documents import read_documents
    from ..models import load_causal_lm
    from ..models.perplexity import perplexity
    from .common import print_json, print_table

    split = [x.strip() for x in args.include.split(",") if x.strip()]
    docs = read_documents(args.data, text_field=args.text_field, include=split,
                          exclude=[x.strip() for x in args.exclude.split(",") if x.strip()],
                          separator=args.separator, skip_invalid=args.skip_invalid)
    model, tok = load_causal_lm(args.model, device=args.device, allow_pickle=args.allow_pickle,
                                trust_remote_code=args.trust_remote_code)
    result = perplexity(model, [d.text for d in docs.documents], tokenizer=tok, block_size=args.block_size,
                        stride=args.stride, batch_size=args.batch_size)
    result["skipped"] = docs.skipped
    if args.format == "json":
        print_json(result)
        return 0
    print_table(f"perplexity of {args.model} on {docs.source}",
                [(k, result[k]) for k in ("perplexity", "nll_per_token", "tokens_scored", "documents",
                                          "documents_too_short", "block_size", "stride")], ("metric", "value"))
    for where, why in docs.skipped.items():
        print(f"skipped {where}: {why}")
    return 0
