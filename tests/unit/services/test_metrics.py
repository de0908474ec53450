"""Labelled metrics are looked up once, per collector: two apps never share a count."""

from prometheus_client import generate_latest

from chatorch.services.metrics import MetricsCollector, labelled

PROMPT_TOKENS = b'chatorch_llm_tokens_total{kind="prompt",provider="openai"}'


def test_a_labelled_child_counts_in_its_own_collector_only() -> None:
    one, other = MetricsCollector(), MetricsCollector()
    labelled(one.tokens, "openai", "prompt").inc(5)
    labelled(one.tokens, "openai", "prompt").inc(2)
    labelled(other.tokens, "openai", "prompt").inc(1)
    assert PROMPT_TOKENS + b" 7.0" in generate_latest(one.registry)
    assert PROMPT_TOKENS + b" 1.0" in generate_latest(other.registry)
