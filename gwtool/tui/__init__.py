"""``gwtool tui``: the live dashboard. Import ``gwtool.tui.app`` for the App (it imports textual)."""
