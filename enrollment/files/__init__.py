"""Reading what people send: the bounded, sandboxed reader of spreadsheets and CSV, cell parsing,
unit names and matching, 合计/小计 checks, and the problems found in a file, each tied to its row."""
