"""The node agent: keeps one nftables table in step with the policy sources."""
