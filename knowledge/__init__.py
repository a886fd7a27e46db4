"""The desk's knowledge: topics, guidance snippets, referrals, and triage of questions."""
