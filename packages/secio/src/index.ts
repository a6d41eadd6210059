/**
 * @tentacle-ts/secio — tentacle-compatible secio: secp256k1 identities, PeerId,
 * the handshake (§3) and the encrypted stream (§4).
 */
export { handshake, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './handshake.js'
export type { HandshakeOptions, HandshakeResult } from './handshake.js'
export { SecureStream, DEFAULT_MAX_SEND_FRAME_LENGTH } from './secure-stream.js'
export type { SecureStreamOptions } from './secure-stream.js'
export { SecioKeyPair } from './key-pair.js'
export { PeerId } from './peer-id.js'
export { SECIO_ERROR_CODES, SecioError, isSecioError } from './errors.js'
export type { HandshakePhase, SecioErrorCode, SecioErrorOptions } from './errors.js'
export {
  AGREEMENTS,
  CIPHERS,
  DIGESTS,
  DEFAULT_AGREEMENTS,
  DEFAULT_CIPHERS,
  DEFAULT_DIGESTS,
  CIPHER_KEY_SIZE,
  EPHEMERAL_KEY_SIZE,
} from './support.js'
export type { AgreementName, CipherName, DigestName, Suite, Ordering } from './support.js'
export { ProposeCodec, ExchangeCodec, PublicKeyCodec, encodePublicKey, decodePublicKey } from './messages.js'
export type { Propose, Exchange } from './messages.js'
export { nodeCryptoProvider, createNodeCryptoProvider } from './crypto/node-provider.js'
export type { NodeCryptoProviderOptions } from './crypto/node-provider.js'
export { nobleCryptoProvider } from './crypto/noble-provider.js'
export type { CryptoProvider, Aead, AeadOpener, EphemeralKey, Signer } from './crypto/provider.js'
export { base58Encode, base58Decode } from './base58.js'
