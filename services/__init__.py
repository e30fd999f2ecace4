"""Domain rules shared by views and commands (accounts: unique emails, the last admin)."""
