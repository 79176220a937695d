"""DFA-Bench: answerers (the detector, DFA-GPT, any OpenAI-compatible endpoint) and the runner
that asks them DFA-Instruct questions and scores the answers with `opendfa.metrics`."""
