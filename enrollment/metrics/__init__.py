"""What the figures mean: progress against target and calendar, who reported, data-quality
flags, and the 进度总览 view model."""
