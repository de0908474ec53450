"""Token verifiers: the TokenVerifier port for OIDC JWTs (PyJWT)."""
