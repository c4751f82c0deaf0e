"""The API's own description (/openapi.json) and its pages (/docs, /redoc): a view of every
front end, so it sits above them all."""
