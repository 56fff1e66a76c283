"""The nftables backend: resolved IR for one node → a small typed nft AST → text or JSON."""
