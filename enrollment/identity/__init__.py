"""Who is using the app: accounts and passwords, login sessions in the browser, roles and what
they may do, and the audit log of who did what."""
