"""The domain: the documents an insurer photographs and their fields (one table row per field, validators, dates,
ID numbers, VINs), plain standard-library code shared by the protocol, the engines and the insurer's client.
Imports only itself."""
