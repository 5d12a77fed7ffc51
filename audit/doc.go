// Package audit checks hotline's records offline, with no node and no
// network: a channel archive (everything a channel holds, exported by a
// node), a proof of one entry, and an evidence file of a party
// contradicting itself. It also writes archives and evidence.
//
// An auditor needs only the files and the parties' public keys, confirmed
// out of band; the archive carries the keys as the exporting node pinned
// them, and the report names them so they can be compared.
package audit
