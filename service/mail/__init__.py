"""Mail: message composition (headers, List-* headers) and transports (SMTP, outbox)."""
