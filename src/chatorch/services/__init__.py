"""Services the pipeline uses: tools, context, LLM manager, prompts, metrics.

They import ports and domain, never a driver.
"""
