"""How the service shows itself, shared by the API, the ops console and the worker: JSON
views of its records (render), its errors as HTTP statuses and bodies (errors), and the
text no request may carry (request_guard, the one part that reads a Flask request)."""
