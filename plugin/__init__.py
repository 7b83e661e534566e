"""GUI side of the plugin (menu, dependency check, viewers)."""
