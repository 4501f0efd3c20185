"""sentinel.models: tiny models round-trip through save_pretrained; pickled checkpoints are refused by default."""

from __future__ import annotations

import pytest
import torch

from sentinel.errors import ModelLoadError
from sentinel.models import build_causal_lm, build_reward_model, load_causal_lm, load_reward_model, load_tokenizer


def test_tokenizer_is_lossless_and_has_chat_template(tiny_tokenizer, tmp_path):
    text = "What is 7 + 8? I'm glad to assist!"
    assert tiny_tokenizer.decode(tiny_tokenizer(text)["input_ids"]) == text
    chat = tiny_tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                              add_generation_prompt=True)
    assert chat == "<|user|>hi<|end|><|assistant|>"
    tiny_tokenizer.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    assert again.pad_token == "<pad>" and again.eos_token == "<|end|>" and again.chat_template


def test_causal_lm_and_reward_model_round_trip(tiny_tokenizer, tmp_path):
    lm = build_causal_lm(tiny_tokenizer)
    lm.save_pretrained(tmp_path / "lm")
    tiny_tokenizer.save_pretrained(tmp_path / "lm")
    loaded, tok = load_causal_lm(tmp_path / "lm", device="cpu")
    ids = tok("What is 2 + 3?", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(lm(**ids).logits, loaded(**ids).logits, atol=1e-5)

    rm = build_reward_model(tiny_tokenizer)
    rm.save_pretrained(tmp_path / "rm")
    tiny_tokenizer.save_pretrained(tmp_path / "rm")
    rm2, tok2 = load_reward_model(tmp_path / "rm", device="cpu")
    batch = tok2(["a", "longer text here"], return_tensors="pt", padding=True)
    assert rm2(**batch).logits.shape == (2, 1)


def test_add_blocks_starts_as_the_same_function_and_trains_the_new_blocks(tiny_tokenizer, tmp_path):
    from sentinel.errors import ConfigError
    from sentinel.models import add_blocks

    rm = build_reward_model(tiny_tokenizer)
    grown = add_blocks(rm, 2, seed=1)
    assert grown.config.num_hidden_layers == rm.config.num_hidden_layers + 2 == len(grown.model.layers)
    batch = tiny_tokenizer(["What is 2 + 3?", "a longer text, padded here"], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.allclose(rm(**batch).logits, grown(**batch).logits, atol=1e-5)  # new blocks start as identity
    # ...but they are trainable: one step moves the new blocks' weights and changes the output.
    opt = torch.optim.SGD(grown.parameters(), lr=0.5)
    grown(**batch).logits.sum().backward()
    opt.step()
    assert grown.model.layers[-1].mlp.down_proj.weight.abs().sum() > 0
    with torch.no_grad():
        assert not torch.allclose(rm(**batch).logits, grown(**batch).logits, atol=1e-5)
    grown.save_pretrained(tmp_path / "grown")  # a standard checkpoint: reloads as a 4-block model
    tiny_tokenizer.save_pretrained(tmp_path / "grown")
    again, _ = load_reward_model(tmp_path / "grown", device="cpu")
    assert again.config.num_hidden_layers == grown.config.num_hidden_layers
    with pytest.raises(ConfigError, match="at least 1"):
        add_blocks(rm, 0)
    with pytest.raises(ConfigError, match="Llama-style"):
        add_blocks(torch.nn.Linear(2, 2), 1)


def test_pickled_checkpoint_refused_unless_opted_in(tiny_tokenizer, tmp_path):
    lm = build_causal_lm(tiny_tokenizer)
    folder = tmp_path / "pickled"
    lm.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    torch.save(lm.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(ModelLoadError) as e:
        load_causal_lm(folder, device="cpu")
    assert "pickle" in str(e.value) and "--allow-pickle" in str(e.value)
    model, _ = load_causal_lm(folder, device="cpu", allow_pickle=True)
    assert model.config.vocab_size == len(tiny_tokenizer)


def test_offline_hub_name_gives_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="offline"):
        load_causal_lm("some-org/some-model")


def test_reward_fn_adapters(tiny_tokenizer, tmp_path):
    from sentinel.errors import DataError
    from sentinel.models import as_reward_fn, build_reward_model

    rf = as_reward_fn(lambda ps, rs: [len(r) for r in rs])
    assert rf(["a", "b"], ["xx", "yyyy"]) == [2.0, 4.0]
    with pytest.raises(DataError, match="returned 1 rewards for 2"):
        as_reward_fn(lambda ps, rs: [0.0])(["a", "b"], ["x", "y"])
    with pytest.raises(DataError, match="raised ZeroDivisionError"):
        as_reward_fn(lambda ps, rs: [1 / 0])(["a"], ["x"])
    combo = as_reward_fn([(lambda ps, rs: [1.0] * len(rs), 2.0), (lambda ps, rs: [len(r) for r in rs], 0.5)])
    assert combo(["p"], ["abcd"]) == [4.0]

    rm = build_reward_model(tiny_tokenizer)
    rm.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    model_rf = as_reward_fn(str(tmp_path), batch_size=2)
    prompts = ["What is 2 + 3?"] * 5
    responses = ["5", "The answer is 5.", "5", "I'm glad to assist you safely and helpfully! 5", "6"]
    batched = model_rf(prompts, responses)
    one_by_one = [model_rf([p], [r])[0] for p, r in zip(prompts, responses)]
    assert batched == pytest.approx(one_by_one, abs=1e-5) and batched[0] == batched[2]


def test_conversational_prompts_are_scored_as_real_turns(tiny_tokenizer, tmp_path):
    """A prompt given as chat messages (an answer, then the user's pushback) reaches the reward model as those turns
    through the chat template, not as one user message holding a transcript; a string is one user turn."""
    from sentinel.errors import DataError
    from sentinel.models import as_reward_fn, build_reward_model, format_for_reward

    turns = [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "The answer is 5."},
             {"role": "user", "content": "Are you sure?"}]
    text = format_for_reward(tiny_tokenizer, turns, "Yes. The answer is 5.")
    reply = [{"role": "assistant", "content": "Yes. The answer is 5."}]
    assert text == tiny_tokenizer.apply_chat_template(turns + reply, tokenize=False)
    assert "Human:" not in text and text.count("What is 2 + 3?") == 1
    assert format_for_reward(tiny_tokenizer, "What is 2 + 3?", "5") == format_for_reward(
        tiny_tokenizer, turns[:1], "5")
    with pytest.raises(DataError, match="end with a user turn"):
        format_for_reward(tiny_tokenizer, turns[:2], "5")

    rm = build_reward_model(tiny_tokenizer)
    rm.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    rf = as_reward_fn(str(tmp_path))
    scores = rf([turns, "What is 2 + 3?", turns[:1]], ["5", "5", "5"])
    assert scores[1] == pytest.approx(scores[2], abs=1e-6) and scores[0] != pytest.approx(scores[1], abs=1e-6)
    seen = []
    as_reward_fn(lambda ps, rs: seen.extend(ps) or [0.0] * len(ps))([turns], ["5"])
    assert seen == [turns]  # a callable gets the messages as they are
    with pytest.raises(DataError, match="prompt"):
        rf([[{"content": "no role"}]], ["5"])
