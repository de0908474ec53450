"""Channel adapters: one folder per messaging platform (verify, parse, send).

Only ``chatorch.wiring`` imports them; ``channel_for`` makes one for a bot.
"""
