"""参保进度看板: enrollment-target tracking for medical-insurance campaigns."""
