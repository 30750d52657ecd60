"""Alternative data: the schemas of what borrowers consent to share, and a seeded simulator."""
