"""What every handler needs of an HTTP request: its JSON body, its caller, ids, pages, the SSE stream."""
