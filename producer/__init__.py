"""Everything that puts tickets on the queue. Never imports torch or the worker."""
