"""Block Kit render functions: core records in, `Message` (text + blocks) out. Pure; tested
against stored JSON in tests/fixtures/slack/."""
