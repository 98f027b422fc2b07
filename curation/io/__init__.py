"""Reading inputs, writing shards, the ledger and the manifest."""
