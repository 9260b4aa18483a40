/* skf_abi.h — the GM/T 0016-2012 (GB/T 35291-2017) "SKF" C ABI, as
 * ../shared/SKF.md gives it: the one header both sides of a vendor library
 * use in tokenrig — the harness's SKF layer (dlopen + dlsym per function)
 * and fixtures/skf (the REF-1 SKF library the CI certifies through).
 *
 * Owns: the fixed-width base types (ULONG uint32_t, BOOL int32_t, BYTE
 * uint8_t, handles void *), every structure packed to 1 byte with its size
 * asserted, the algorithm ids, PIN types, access rights, device states and
 * events, the SAR_* return codes, and the type of every function a
 * certification calls (TR_SKF_FUNCTIONS below: NAME_fn is the function
 * type, NAME_pfn the pointer type dlsym's result is cast to), plus
 * tr_skf_sar_name (skf_abi.c) for the trace.
 * Must not: declare the functions themselves (nothing links against a vendor
 * library: every call goes through a pointer), or depend on anything else of
 * tokenrig.
 *
 * Beware: pcsclite's <PCSC/wintypes.h> (pulled in by <PCSC/winscard.h>)
 * defines ULONG as unsigned long and BOOL as short. The two headers cannot
 * share a translation unit; keep PC/SC code in a file of its own.
 *
 * Vendor headers that make ULONG or BOOL a C long (8 bytes on 64-bit Linux)
 * are a profile quirk, not a different ABI here (SKF.md, "Where vendors
 * differ"): the caller passes zeroed 8-byte storage for every ULONG * and
 * BOOL * output so a wider write cannot corrupt memory.
 */
#ifndef TR_SKF_ABI_H
#define TR_SKF_ABI_H

#include <stddef.h>
#include <stdint.h>

/* ---- base types ----------------------------------------------------------- */
typedef uint32_t ULONG;
typedef int32_t BOOL;
typedef uint8_t BYTE;
typedef char CHAR;
typedef char *LPSTR;
typedef void *HANDLE;
typedef HANDLE DEVHANDLE;
typedef HANDLE HAPPLICATION;
typedef HANDLE HCONTAINER;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

/* ---- sizes of the structures' arrays -------------------------------------- */
#define MAX_RSA_MODULUS_LEN 256
#define MAX_RSA_EXPONENT_LEN 4
#define ECC_MAX_XCOORDINATE_BITS_LEN 512
#define ECC_MAX_YCOORDINATE_BITS_LEN 512
#define ECC_MAX_MODULUS_BITS_LEN 512
#define MAX_IV_LEN 32
#define MAX_FILE_NAME_SIZE 32
#define MAX_CONTAINER_NAME_SIZE 64

/* ---- structures (all packed to 1 byte) ------------------------------------ */
#pragma pack(push, 1)

typedef struct {
    BYTE major;
    BYTE minor;
} VERSION;

typedef struct {
    VERSION Version;
    CHAR Manufacturer[64];
    CHAR Issuer[64];
    CHAR Label[32];
    CHAR SerialNumber[32];
    VERSION HWVersion;
    VERSION FirmwareVersion;
    ULONG AlgSymCap;
    ULONG AlgAsymCap;
    ULONG AlgHashCap;
    ULONG DevAuthAlgId;
    ULONG TotalSpace;
    ULONG FreeSpace;
    ULONG MaxECCBufferSize; /* missing in older headers (a 286-byte DEVINFO) */
    ULONG MaxBufferSize;    /* idem */
    BYTE Reserved[64];
} DEVINFO;

/* 256-bit values are right-aligned in the 64-byte coordinates. */
typedef struct {
    ULONG BitLen;
    BYTE XCoordinate[ECC_MAX_XCOORDINATE_BITS_LEN / 8];
    BYTE YCoordinate[ECC_MAX_YCOORDINATE_BITS_LEN / 8];
} ECCPUBLICKEYBLOB;

typedef struct {
    BYTE r[ECC_MAX_XCOORDINATE_BITS_LEN / 8];
    BYTE s[ECC_MAX_YCOORDINATE_BITS_LEN / 8];
} ECCSIGNATUREBLOB;

/* Big-endian, right-aligned in their arrays. */
typedef struct {
    ULONG AlgID;
    ULONG BitLen;
    BYTE Modulus[MAX_RSA_MODULUS_LEN];
    BYTE PublicExponent[MAX_RSA_EXPONENT_LEN];
} RSAPUBLICKEYBLOB;

typedef struct {
    CHAR FileName[MAX_FILE_NAME_SIZE];
    ULONG FileSize;
    ULONG ReadRights;
    ULONG WriteRights;
} FILEATTRIBUTE;

/* An SM2 ciphertext: C1 (x, y right-aligned), C3 (HASH), then CipherLen bytes
 * of C2. Cipher is declared with one byte as the published headers do: the
 * real blob is ECCCIPHERBLOB_SIZE(CipherLen) bytes. */
typedef struct {
    BYTE XCoordinate[ECC_MAX_XCOORDINATE_BITS_LEN / 8];
    BYTE YCoordinate[ECC_MAX_YCOORDINATE_BITS_LEN / 8];
    BYTE HASH[32];
    ULONG CipherLen;
    BYTE Cipher[1];
} ECCCIPHERBLOB;

typedef struct {
    BYTE IV[MAX_IV_LEN];
    ULONG IVLen;
    ULONG PaddingType; /* 0 none, 1 PKCS#5 */
    ULONG FeedBitLen;  /* OFB / CFB only */
} BLOCKCIPHERPARAM;

#pragma pack(pop)

#define ECCCIPHERBLOB_HEADER_SIZE offsetof(ECCCIPHERBLOB, Cipher)
#define ECCCIPHERBLOB_SIZE(cipher_len) (ECCCIPHERBLOB_HEADER_SIZE + (size_t)(cipher_len))

/* The sizes every vendor header agrees on (SKF.md's field lists). */
_Static_assert(sizeof(ULONG) == 4 && sizeof(BOOL) == 4 && sizeof(BYTE) == 1, "SKF base types");
_Static_assert(sizeof(VERSION) == 2, "VERSION is 2 bytes");
_Static_assert(sizeof(DEVINFO) == 294, "DEVINFO is 294 bytes");
_Static_assert(offsetof(DEVINFO, MaxECCBufferSize) == 222, "286-byte DEVINFO ends before MaxECCBufferSize + MaxBufferSize");
_Static_assert(offsetof(DEVINFO, AlgSymCap) == 198, "DEVINFO caps after 2+64+64+32+32+2+2");
_Static_assert(sizeof(ECCPUBLICKEYBLOB) == 132, "ECCPUBLICKEYBLOB is 132 bytes");
_Static_assert(sizeof(ECCSIGNATUREBLOB) == 128, "ECCSIGNATUREBLOB is 128 bytes");
_Static_assert(sizeof(RSAPUBLICKEYBLOB) == 268, "RSAPUBLICKEYBLOB is 268 bytes");
_Static_assert(sizeof(FILEATTRIBUTE) == 44, "FILEATTRIBUTE is 44 bytes");
_Static_assert(offsetof(ECCCIPHERBLOB, CipherLen) == 160, "ECCCIPHERBLOB CipherLen after x, y, HASH");
_Static_assert(offsetof(ECCCIPHERBLOB, Cipher) == 164, "ECCCIPHERBLOB Cipher at 164");
_Static_assert(sizeof(ECCCIPHERBLOB) == 165, "ECCCIPHERBLOB with its one-byte Cipher is 165 bytes");
_Static_assert(sizeof(BLOCKCIPHERPARAM) == 44, "BLOCKCIPHERPARAM is 44 bytes");

/* ---- algorithm ids ---------------------------------------------------------- */
/* SM2: SKF vendor headers call 0x00020100 SGD_SM2_1 (signature); GM/T 0006
 * calls it SGD_SM2 and gives the SM2 signature 0x00020200. Test AlgAsymCap
 * by bits and accept either. */
#define SGD_SM2 0x00020100u
#define SGD_SM2_1 0x00020100u
#define SGD_SM2_SIGN_GMT0006 0x00020200u
#define SGD_RSA 0x00010000u
#define SGD_SM3 0x00000001u
#define SGD_SHA1 0x00000002u
#define SGD_SHA256 0x00000004u
#define SGD_SM4_ECB 0x00000401u
#define SGD_SM4_CBC 0x00000402u

/* ---- PINs, rights, containers, devices ------------------------------------ */
#define ADMIN_TYPE 0u /* the SO PIN */
#define USER_TYPE 1u

#define SECURE_NEVER_ACCOUNT 0x00000000u
#define SECURE_ADM_ACCOUNT 0x00000001u
#define SECURE_USER_ACCOUNT 0x00000010u
#define SECURE_ANYONE_ACCOUNT 0x000000FFu

#define SKF_CONTAINER_EMPTY 0u /* SKF_GetContainerType */
#define SKF_CONTAINER_RSA 1u
#define SKF_CONTAINER_ECC 2u

#define DEV_ABSENT_STATE 0u   /* SKF_GetDevState */
#define DEV_PRESENT_STATE 1u
#define DEV_UNKNOW_STATE 2u   /* sic, the standard's spelling */

#define SKF_DEV_EVENT_INSERTED 1u /* SKF_WaitForDevEvent */
#define SKF_DEV_EVENT_REMOVED 2u

/* ---- return codes ------------------------------------------------------------ */
#define SAR_OK 0x00000000u
#define SAR_FAIL 0x0A000001u
#define SAR_UNKNOWNERR 0x0A000002u
#define SAR_NOTSUPPORTYETERR 0x0A000003u
#define SAR_FILEERR 0x0A000004u
#define SAR_INVALIDHANDLEERR 0x0A000005u
#define SAR_INVALIDPARAMERR 0x0A000006u
#define SAR_READFILEERR 0x0A000007u
#define SAR_WRITEFILEERR 0x0A000008u
#define SAR_NAMELENERR 0x0A000009u
#define SAR_KEYUSAGEERR 0x0A00000Au
#define SAR_MODULUSLENERR 0x0A00000Bu
#define SAR_NOTINITIALIZEERR 0x0A00000Cu
#define SAR_OBJERR 0x0A00000Du
#define SAR_MEMORYERR 0x0A00000Eu
#define SAR_TIMEOUTERR 0x0A00000Fu
#define SAR_INDATALENERR 0x0A000010u
#define SAR_INDATAERR 0x0A000011u
#define SAR_GENRANDERR 0x0A000012u
#define SAR_HASHOBJERR 0x0A000013u
#define SAR_HASHERR 0x0A000014u
#define SAR_GENRSAKEYERR 0x0A000015u
#define SAR_RSAMODULUSLENERR 0x0A000016u
#define SAR_CSPIMPRTPUBKEYERR 0x0A000017u
#define SAR_RSAENCERR 0x0A000018u
#define SAR_RSADECERR 0x0A000019u
#define SAR_HASHNOTEQUALERR 0x0A00001Au
#define SAR_KEYNOTFOUNTERR 0x0A00001Bu  /* sic */
#define SAR_CERTNOTFOUNTERR 0x0A00001Cu /* sic */
#define SAR_NOTEXPORTERR 0x0A00001Du
#define SAR_DECRYPTPADERR 0x0A00001Eu
#define SAR_MACLENERR 0x0A00001Fu
#define SAR_BUFFER_TOO_SMALL 0x0A000020u
#define SAR_KEYINFOTYPEERR 0x0A000021u
#define SAR_NOT_EVENTERR 0x0A000022u
#define SAR_DEVICE_REMOVED 0x0A000023u
#define SAR_PIN_INCORRECT 0x0A000024u
#define SAR_PIN_LOCKED 0x0A000025u
#define SAR_PIN_INVALID 0x0A000026u
#define SAR_PIN_LEN_RANGE 0x0A000027u
#define SAR_USER_ALREADY_LOGGED_IN 0x0A000028u
#define SAR_USER_PIN_NOT_INITIALIZED 0x0A000029u
#define SAR_USER_TYPE_INVALID 0x0A00002Au
#define SAR_APPLICATION_NAME_INVALID 0x0A00002Bu
#define SAR_APPLICATION_EXISTS 0x0A00002Cu
#define SAR_USER_NOT_LOGGED_IN 0x0A00002Du
#define SAR_APPLICATION_NOT_EXISTS 0x0A00002Eu
#define SAR_FILE_ALREADY_EXIST 0x0A00002Fu
#define SAR_NO_ROOM 0x0A000030u
#define SAR_FILE_NOT_EXIST 0x0A000031u
/* Codes above SAR_FILE_NOT_EXIST differ from vendor to vendor: a profile
 * names them; tr_skf_sar_name prints them in hex. */

/* "SAR_PIN_INCORRECT", or "0x0A0000F3" for a code the standard does not name
 * (the hex form lives in a thread-local buffer, valid until the next call
 * from the same thread). */
const char *tr_skf_sar_name(ULONG code);

/* ---- the functions ------------------------------------------------------------ */
/* X(NAME, (PARAMETERS)) for every function a certification calls; every one
 * returns ULONG. A vendor may leave any of them out (resolve each with dlsym
 * and treat a missing one as unsupported). Use as
 *   #define F(name, params) name##_pfn name;
 *   struct skf_api { TR_SKF_FUNCTIONS(F) };
 * or, in a library implementing them, `name##_fn name;` so the compiler
 * checks each definition against the ABI. */
#define TR_SKF_FUNCTIONS(X) \
    X(SKF_WaitForDevEvent, (LPSTR szDevName, ULONG *pulDevNameLen, ULONG *pulEvent)) \
    X(SKF_CancelWaitForDevEvent, (void)) \
    X(SKF_EnumDev, (BOOL bPresent, LPSTR szNameList, ULONG *pulSize)) \
    X(SKF_ConnectDev, (LPSTR szName, DEVHANDLE *phDev)) \
    X(SKF_DisConnectDev, (DEVHANDLE hDev)) \
    X(SKF_GetDevState, (LPSTR szDevName, ULONG *pulDevState)) \
    X(SKF_GetDevInfo, (DEVHANDLE hDev, DEVINFO *pDevInfo)) \
    X(SKF_LockDev, (DEVHANDLE hDev, ULONG ulTimeOut)) \
    X(SKF_UnlockDev, (DEVHANDLE hDev)) \
    X(SKF_EnumApplication, (DEVHANDLE hDev, LPSTR szAppName, ULONG *pulSize)) \
    X(SKF_OpenApplication, (DEVHANDLE hDev, LPSTR szAppName, HAPPLICATION *phApplication)) \
    X(SKF_CloseApplication, (HAPPLICATION hApplication)) \
    X(SKF_GetPINInfo, (HAPPLICATION hApplication, ULONG ulPINType, ULONG *pulMaxRetryCount, \
                       ULONG *pulRemainRetryCount, BOOL *pbDefaultPin)) \
    X(SKF_VerifyPIN, (HAPPLICATION hApplication, ULONG ulPINType, LPSTR szPIN, ULONG *pulRetryCount)) \
    X(SKF_ChangePIN, (HAPPLICATION hApplication, ULONG ulPINType, LPSTR szOldPin, LPSTR szNewPin, \
                      ULONG *pulRetryCount)) \
    X(SKF_UnblockPIN, (HAPPLICATION hApplication, LPSTR szAdminPIN, LPSTR szNewUserPIN, \
                       ULONG *pulRetryCount)) \
    X(SKF_ClearSecureState, (HAPPLICATION hApplication)) \
    X(SKF_EnumFiles, (HAPPLICATION hApplication, LPSTR szFileList, ULONG *pulSize)) \
    X(SKF_GetFileInfo, (HAPPLICATION hApplication, LPSTR szFileName, FILEATTRIBUTE *pFileInfo)) \
    X(SKF_ReadFile, (HAPPLICATION hApplication, LPSTR szFileName, ULONG ulOffset, ULONG ulSize, \
                     BYTE *pbOutData, ULONG *pulOutLen)) \
    X(SKF_EnumContainer, (HAPPLICATION hApplication, LPSTR szContainerName, ULONG *pulSize)) \
    X(SKF_OpenContainer, (HAPPLICATION hApplication, LPSTR szContainerName, HCONTAINER *phContainer)) \
    X(SKF_CloseContainer, (HCONTAINER hContainer)) \
    X(SKF_GetContainerType, (HCONTAINER hContainer, ULONG *pulContainerType)) \
    X(SKF_ExportCertificate, (HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbCert, ULONG *pulCertLen)) \
    X(SKF_ExportPublicKey, (HCONTAINER hContainer, BOOL bSignFlag, BYTE *pbBlob, ULONG *pulBlobLen)) \
    X(SKF_GenRandom, (DEVHANDLE hDev, BYTE *pbRandom, ULONG ulRandomLen)) \
    X(SKF_DigestInit, (DEVHANDLE hDev, ULONG ulAlgID, ECCPUBLICKEYBLOB *pPubKey, BYTE *pbID, \
                       ULONG ulIDLen, HANDLE *phHash)) \
    X(SKF_Digest, (HANDLE hHash, BYTE *pbData, ULONG ulDataLen, BYTE *pbHashData, ULONG *pulHashLen)) \
    X(SKF_DigestUpdate, (HANDLE hHash, BYTE *pbData, ULONG ulDataLen)) \
    X(SKF_DigestFinal, (HANDLE hHash, BYTE *pHashData, ULONG *pulHashLen)) \
    X(SKF_ECCSignData, (HCONTAINER hContainer, BYTE *pbDigest, ULONG ulDigestLen, \
                        ECCSIGNATUREBLOB *pSignature)) \
    X(SKF_RSASignData, (HCONTAINER hContainer, BYTE *pbData, ULONG ulDataLen, BYTE *pbSignature, \
                        ULONG *pulSignLen)) \
    X(SKF_ImportSessionKey, (HCONTAINER hContainer, ULONG ulAlgId, BYTE *pbWrapedData, \
                             ULONG ulWrapedLen, HANDLE *phKey)) \
    X(SKF_DecryptInit, (HANDLE hKey, BLOCKCIPHERPARAM DecryptParam)) \
    X(SKF_Decrypt, (HANDLE hKey, BYTE *pbEncryptedData, ULONG ulEncryptedLen, BYTE *pbData, \
                    ULONG *pulDataLen)) \
    X(SKF_CloseHandle, (HANDLE hHandle))

#define TR_SKF_DECLARE_TYPES(name, params) \
    typedef ULONG name##_fn params;        \
    typedef name##_fn *name##_pfn;
TR_SKF_FUNCTIONS(TR_SKF_DECLARE_TYPES)
#undef TR_SKF_DECLARE_TYPES

#endif
