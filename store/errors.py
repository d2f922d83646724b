"""Store errors. Callers catch these, never botocore's; the ingress maps them to HTTP.

StoreError
 ├── ConditionFailed      a conditional write's condition did not hold (DynamoDB's
 │    │                   ConditionalCheckFailed, as the table layer translates it)
 │    ├── VersionConflict a versioned write lost against a concurrent writer
 │    └── AlreadyExists   a put-if-absent found the key taken
 ├── NotFound             the item is not there
 ├── CorruptItem          a split item's parts are missing or fail their checksum
 ├── InvalidKey           a key the store cannot hold: empty, or over DynamoDB's size limits
 └── StoreUnavailable     the DynamoDB endpoint could not be reached or refused the call
"""


class StoreError(Exception):
    """Base of every store error."""


class ConditionFailed(StoreError):
    """A conditional write's condition did not hold. What that means is the caller's to say:
    a put-if-absent re-raises it as ``AlreadyExists``, a versioned write as ``VersionConflict``,
    a claim reads it as "taken or finished"."""


class VersionConflict(ConditionFailed):
    def __init__(self, key: str, expected: int | None) -> None:
        super().__init__(f"version conflict on {key}: expected version {expected}")
        self.key = key
        self.expected = expected


class AlreadyExists(ConditionFailed):
    pass


class NotFound(StoreError):
    pass


class CorruptItem(StoreError):
    pass


class InvalidKey(StoreError):
    """A key DynamoDB refuses to hold: an empty string, or a partition key over 2,048 bytes or a
    sort key over 1,024 bytes. The caller's input, never an outage: the ingress answers 422."""


class StoreUnavailable(StoreError):
    pass
