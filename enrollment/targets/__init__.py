"""Target tables (任务分解表) as versions, and the allocation tool that computes one."""
