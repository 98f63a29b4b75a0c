"""The seed page's own example payloads, written out literally (not read from the definition)."""

SEED_EXECUTE_COMMAND = {
    "op": 2,
    "t": "EXECUTE_COMMAND",
    "d": {
        "command": "ban",
        "raw": "minemidnight#0001 spamming -t 5h",
        "ids": {
            "message": "479455578708639755",
            "author": "155112606661607425",
            "channel": "254770965018443776",
            "guild": "254768930223161344",
            "shard": 1,
        },
    },
}
