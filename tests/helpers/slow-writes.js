// SPDX-License-Identifier: GPL-2.0-or-later
// Tests only, preloaded into the S3 test server with NODE_OPTIONS
// "--require": every chunk a file write stream writes goes to the file
// 100 ms late, as on a disk that is busy, so that a server that answers
// before its file is written is caught doing so.
'use strict';
const fs = require('fs');

const LATE_MS = 100;

for (const name of ['_write', '_writev']) {
	const orig = fs.WriteStream.prototype[name];

	if (typeof orig !== 'function')
		continue;
	fs.WriteStream.prototype[name] = function (...args) {
		setTimeout(() => orig.apply(this, args), LATE_MS);
	};
}
