"""Small applications and scopes used as fixtures by the app-loading and WSGI tests."""
