"""The names each command's --help lists, for the built-in protocol definition (see help.py).

The block below is generated from gwtool/protocol/default.toml: ``python -m gwtool.cli.help_names``
rewrites it (tests/test_cli_help.py fails while it is stale).
"""

# generated: start
DEFINITION_CRC32 = 0x78791759
NAMES = {
    "connect": "Service types: sharder, commands",
    "send": "Events: EXECUTE_COMMAND (from sharder), IDENTIFIED (from the gateway)\nService types: sharder, commands",
    "cache": "Cache types: member, role, user, guild, channel, voiceState\nService types: sharder, commands",
    "validate": "Service types: sharder, commands",
    "tui": "Service types: sharder, commands",
    "check service": "Service types: sharder, commands",
    "replay": "Service types: sharder, commands",
}
# generated: end

if __name__ == "__main__":
    from pathlib import Path

    from gwtool.cli.help import rewrite_names_block

    rewrite_names_block(Path(__file__))
