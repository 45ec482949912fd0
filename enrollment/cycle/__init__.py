"""The Friday cycle: 催报 (who has not reported, with whom to call), unit contacts, locked weeks
and their exceptions, publishing a bulletin (the files circulated kept byte for byte), the
archive, and pushing a published bulletin to a WeChat Work or DingTalk group robot."""
