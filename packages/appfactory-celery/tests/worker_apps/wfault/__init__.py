"""``wapp``'s worker with a broken Redis round trip for one task (``WFAULT_TASK_ID``)."""
