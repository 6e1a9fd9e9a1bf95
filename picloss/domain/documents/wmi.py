"""World manufacturer identifiers (ISO 3780): the first three characters of a VIN.

ISO 3780 gives the region by the first character and SAE (for ISO) assigns the codes. The table below lists
the WMIs of the makes an insurer meets most, European, Russian-assembled, Asian, Chinese and North American;
it is not the full register (some thousand codes), so a WMI that is not listed proves nothing against a
VIN. A listed WMI is evidence for a read (it is what a misread of the first three characters rarely gives),
and a read whose WMI is not listed may be corrected into a listed one only where the recogniser was unsure
and exactly one reading fits (picloss/domain/documents/vin.py).
"""

from __future__ import annotations

# ISO 3780 regions by the first character.
REGIONS: tuple[tuple[str, str], ...] = (
    ("ABCDEFGH", "Africa"), ("JKLMNPR", "Asia"), ("STUVWXYZ", "Europe"),
    ("12345", "North America"), ("67", "Oceania"), ("89", "South America"),
)

_TABLE = """
VF1 Renault; VF3 Peugeot; VR3 Peugeot; VF7 Citroen; VR7 Citroen; VR1 DS; VF6 Renault Trucks; VNK Toyota France
VSS SEAT; VS6 Ford Spain; VSK Nissan Spain; VS7 Citroen Spain; VWV Volkswagen Spain
W0L Opel; W0V Opel; WAU Audi; WA1 Audi; WUA Audi; WBA BMW; WBS BMW M; WBY BMW i; WMW MINI; WME smart
WDB Mercedes-Benz; WDD Mercedes-Benz; WDC Mercedes-Benz; WDF Mercedes-Benz; W1K Mercedes-Benz
W1N Mercedes-Benz; W1V Mercedes-Benz; WF0 Ford Germany; WP0 Porsche; WP1 Porsche
WVW Volkswagen; WV1 Volkswagen; WV2 Volkswagen; WVG Volkswagen
TMB Skoda; TMA Hyundai Czech; TRU Audi Hungary; TSM Suzuki Hungary; U5Y Kia Slovakia; U6Y Kia Slovakia
ZFA Fiat; ZAR Alfa Romeo; ZFF Ferrari; ZHW Lamborghini; ZAM Maserati; ZCF Iveco; ZLA Lancia
SAJ Jaguar; SAL Land Rover; SAR Rover; SCC Lotus; SCF Aston Martin; SCA Rolls-Royce; SCB Bentley
SJN Nissan UK; SHH Honda UK; SHS Honda UK; SB1 Toyota UK
YS3 Saab; YV1 Volvo; YV4 Volvo; YS2 Scania; YV2 Volvo Trucks
XTA AvtoVAZ; XTT UAZ; XTH GAZ; X96 GAZ; XTC KAMAZ; X7L Renault Russia; XUU Avtotor; XWE Avtotor (Kia, Hyundai)
XWF Avtotor (Chevrolet, Opel); X4X Avtotor (BMW); XW8 Volkswagen Russia; XW7 Toyota Russia; X9F Ford Russia
X9L GM-AvtoVAZ; Z94 Hyundai Russia; Z8N Nissan Russia; Z8T PSMA Rus; Z6F Ford Sollers; Y4K BelGee; Y3M MAZ
JHM Honda; JHL Honda; JN1 Nissan; JN8 Nissan; JT2 Toyota; JT3 Toyota; JTD Toyota; JTE Toyota; JTH Lexus
JTJ Lexus; JTM Toyota; JTN Toyota; JMZ Mazda; JM1 Mazda; JM3 Mazda; JS1 Suzuki; JS2 Suzuki; JS3 Suzuki
JF1 Subaru; JF2 Subaru; JA3 Mitsubishi; JA4 Mitsubishi; JMB Mitsubishi
KMH Hyundai; KMF Hyundai; KNA Kia; KNB Kia; KNC Kia; KND Kia; KNE Kia; KL1 GM Korea; KL4 GM Korea
KLA Daewoo; KPT SsangYong; KNM Renault Samsung
MA1 Mahindra; MAL Hyundai India; MA3 Maruti Suzuki; MAT Tata; MR0 Toyota Thailand; MMB Mitsubishi Thailand
MNT Nissan Thailand; MHF Toyota Indonesia; NM0 Ford Turkey; NMT Toyota Turkey
LSV SAIC Volkswagen; LFV FAW-Volkswagen; LSG SAIC-GM; LBV BMW Brilliance; LDC Dongfeng Peugeot Citroen
LVS Changan Ford; LVH Dongfeng Honda; LHG GAC Honda; LGB Dongfeng Nissan; LZW SAIC-GM-Wuling; LGX BYD
LC0 BYD; LB3 Geely; LFM FAW Toyota; LTV FAW Toyota; LVG GAC Toyota; LNB BAIC; LGW Great Wall; LJD Dongfeng Yueda Kia
LBE Beijing Hyundai; LFP FAW; LFB FAW; LVV Chery; LVT Chery; LVR Changan Mazda; LSJ SAIC MG; LS5 Changan; LJ1 JAC
LRW Tesla China; LWV GAC Fiat
1G1 Chevrolet; 1G4 Buick; 1G6 Cadillac; 1GN Chevrolet; 1GC Chevrolet; 1GT GMC; 1GK GMC; 1GY Cadillac
2G1 Chevrolet; 2GN Chevrolet; 2GT GMC; 3G1 Chevrolet; 3GN Chevrolet; 3GK GMC; 3GC Chevrolet
1FA Ford; 1FM Ford; 1FT Ford; 1FD Ford; 2FM Ford; 2FA Ford; 3FA Ford; 1LN Lincoln; 2LM Lincoln; 5LM Lincoln
1C3 Chrysler; 1C4 Chrysler; 1C6 Ram; 2C3 Chrysler; 2C4 Chrysler; 3C4 Chrysler; 3C6 Ram; 1J4 Jeep; 1J8 Jeep
1B3 Dodge; 1D7 Dodge; 2T1 Toyota; 2T3 Toyota; 4T1 Toyota; 4T3 Toyota; 5TD Toyota; 5TF Toyota
1HG Honda; 2HG Honda; 5FN Honda; 5J6 Honda; 19X Honda; 19U Acura; 1N4 Nissan; 1N6 Nissan; 5N1 Nissan
3N1 Nissan; 4S3 Subaru; 4S4 Subaru; 5YJ Tesla; 7SA Tesla; 1VW Volkswagen; 3VW Volkswagen; 4JG Mercedes-Benz
5UX BMW; 5YM BMW; 4US BMW; 5XY Kia; 5XX Kia; 3KP Kia; 5NP Hyundai; 5NM Hyundai; 4S2 Isuzu
"""

WMI: dict[str, str] = {
    code: name
    for line in _TABLE.strip().splitlines()
    for entry in line.split(";")
    for code, _, name in [entry.strip().partition(" ")]
}


def region(vin: str) -> str | None:
    """The ISO 3780 region of a VIN's first character."""
    return next((name for chars, name in REGIONS if vin[:1] and vin[0] in chars), None)


def known_wmi(vin: str) -> str | None:
    """The manufacturer of a listed WMI, else None (an unlisted WMI proves nothing)."""
    return WMI.get(vin[:3])
