"""Pure compilers from the resolved IR to data-plane rulesets; nothing here executes."""
