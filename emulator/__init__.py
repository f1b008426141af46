"""Local stand-ins for Azure Resource Manager, its Event Grid subscription topic and a webhook.

    from emulator import ArmEmulator, EmulatorCredential
    with ArmEmulator() as emu:
        client = CognitiveServicesManagementClient(EmulatorCredential(), sub, **emu.client_kwargs())
"""

from emulator.credential import EmulatorCredential, decode_jwt_claims, encode_unsigned_jwt
from emulator.receiver import ReceivedRequest, WebhookReceiver
from emulator.samples import load_sample, samples_dir
from emulator.server import ArmEmulator, RecordedRequest

__all__ = [
    "ArmEmulator",
    "EmulatorCredential",
    "ReceivedRequest",
    "RecordedRequest",
    "WebhookReceiver",
    "decode_jwt_claims",
    "encode_unsigned_jwt",
    "load_sample",
    "samples_dir",
]
