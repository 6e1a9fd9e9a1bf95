"""`picloss review`: the insurer's adjuster review page (issue 24) over a folder of callbacks and their photos.

- `folder`: the callbacks of a folder and their photos, never anything outside the photos folder;
- `state`: the adjuster's review of a claim (one JSON file per claim under `DIR/review/`, written atomically),
  checked against the claim, and turned into labels (`picloss.client.sdk.labels`);
- `views`: what the page shows of a claim, and the COCO export;
- `app`: the aiohttp server (the only module that needs aiohttp: `pip install 'picloss[review]'`);
- `static/`: the page itself (HTML, JS, CSS; no CDN, no external URL).

Everything but `app` imports only the standard library (and Pillow when present, for upright photo sizes).
"""
