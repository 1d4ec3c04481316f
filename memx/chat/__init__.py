"""Chat models and fine-tunes (docs/chat.md, "Chat models and fine-tunes"): chat
templates and the prompts rendered through them, the divergence attack's prompts and
divergence points, and the config sections of both. Pure: no Ray, storage or runs.
"""
