"""The reference relays chatorch is measured against, each started by the bench."""
