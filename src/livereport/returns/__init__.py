"""Returned mails and stored bounces: what reads mailboxes, listens for mail, stores what
bounces/ decided, and applies an org's changed rules to the bounces already stored.

bounces/ qualifies and parses without touching any store; this package does the I/O around
it, through the ingest pipeline and the metadata.
"""
