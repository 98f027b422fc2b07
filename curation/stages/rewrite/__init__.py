"""REWIRE (Nguyen et al., COLM 2025): recycle discarded web text by guided rewriting, then re-score and mix.

Modules, one job each:
    prompts     versioned prompt templates (prompts/*.txt) and the prompt builder
    parse       the improved response between the markers; malformed outputs get a reason code
    backends    one interface over an OpenAI-compatible HTTP server and embedded llama.cpp
    cache       rewrites stored by (document hash, prompt version, model), so reruns do not regenerate
    budget      how many documents a generation budget (tokens, or GPU-hours x tokens/s) pays for
    generate    the per-batch transform: pool documents in, one new rewrite row per generation attempt out
    postfilter  the second fastText classifier (positives vs rewrites), top-fraction selection, mixture weights
"""
