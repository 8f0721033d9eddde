// SPDX-License-Identifier: GPL-2.0-or-later
// Preloaded into the S3 test server by tests/s3server (node --require).
// s3rver 3.7.1's filesystem store answers a PUT once the body has gone
// through its md5 stage, which can be before the object's file is
// written: a HEAD or GET right after the PUT (the migrator reads every
// copy back at once) then sees a short object. This putObject answers
// only once the file is closed. The rest of the store is s3rver's.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const Store = require('s3rver/lib/stores/filesystem');

Store.prototype.putObject = async function (object) {
	const file = this.getResourcePath(object.bucket, object.key, 'object');
	const md5 = crypto.createHash('md5');
	let size = 0;

	await fs.promises.mkdir(path.dirname(file), { recursive: true });
	await new Promise((resolve, reject) => {
		const out = fs.createWriteStream(file);

		out.on('error', reject).on('close', resolve);
		if (Buffer.isBuffer(object.content)) {
			md5.update(object.content);
			size = object.content.length;
			out.end(object.content);
			return;
		}
		object.content
			.on('data', (chunk) => {
				md5.update(chunk);
				size += chunk.length;
			})
			.on('error', (err) => {
				out.destroy();
				reject(err);
			})
			.pipe(out);
	});
	const sum = md5.digest('hex');

	await this.putMetadata(object.bucket, object.key, object.metadata, sum);
	return { size, md5: sum };
};
