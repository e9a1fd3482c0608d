/**
 * The receiver's TLS settings apply to the store as they do to a collector: RGW serving HTTPS
 * itself (the CA bundle verified, or verification off), and RGW behind nginx that requires a
 * client certificate (the lab's usual way to put mTLS in front of an object store).
 */
import { join } from "node:path";
import { startCeph } from "../../devkit/ceph.ts";
import { startNginx } from "../../devkit/nginx.ts";
import { S3Receiver } from "../../src/upload/s3/s3_receiver.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";
import { sharedPki } from "../support/shared_pki.ts";
import { createBucket, curlS3, makeTarball, parcelOf, settingsFor } from "./_helpers.ts";

Deno.test("S3Receiver over TLS to RGW, and through nginx requiring a client certificate", async (t) => {
  const pki = await sharedPki();
  await using ceph = await startCeph({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca },
  });
  const dir = await Deno.makeTempDir();
  const ca = await Deno.readTextFile(pki.ca);
  await createBucket(ceph, "episodes");
  const file = await makeTarball(dir, "t.tar.gz", 100_000, 1);

  await t.step("stored when the CA bundle holds the store's CA", async () => {
    const receiver = new S3Receiver(settingsFor(ceph, "episodes", { tls: { ca } }));
    assertEquals(await receiver.send(parcelOf(file, { episodeId: "t1" })), {
      class: "stored",
      status: 200,
    });
    receiver.close();
  });

  await t.step("an untrusted store certificate is never sent to: transient, named", async () => {
    const other = await Deno.readTextFile(pki.otherCa);
    const receiver = new S3Receiver(settingsFor(ceph, "episodes", { tls: { ca: other } }));
    const answer = await receiver.send(parcelOf(file, { episodeId: "t2" }));
    receiver.close();
    assertEquals(answer.class, "transient");
    assertMatch((answer as { said: string }).said, /cannot verify the store's TLS certificate/);
    assertEquals((await curlS3(ceph, "HEAD", "/episodes/lab/lab-01/t2.tar.gz")).status, 404);
  });

  await t.step("verify_tls = false skips verification for this store only", async () => {
    const other = await Deno.readTextFile(pki.otherCa);
    const receiver = new S3Receiver(
      settingsFor(ceph, "episodes", { tls: { ca: other }, verifyTls: false }),
    );
    assertEquals((await receiver.send(parcelOf(file, { episodeId: "t3" }))).class, "stored");
    receiver.close();
  });

  await t.step(
    "through nginx with ssl_verify_client: stored with the certificate, credentials without",
    async () => {
      const port = new URL(ceph.endpoint).port;
      await using nginx = await startNginx(
        join(dir, "nginx"),
        pki,
        `location /episodes {
        proxy_pass https://127.0.0.1:${port};
        proxy_set_header Host $http_host;
        proxy_request_buffering off;
        proxy_http_version 1.1;
      }`,
      );
      const client = pki.client("lab-01");
      const withCert = new S3Receiver(settingsFor(ceph, "episodes", {
        endpoint: nginx.url,
        tls: {
          ca,
          cert: await Deno.readTextFile(client.cert),
          key: await Deno.readTextFile(client.key),
        },
      }));
      assertEquals(await withCert.send(parcelOf(file, { episodeId: "t4" })), {
        class: "stored",
        status: 200,
      });
      withCert.close();
      const withoutCert = new S3Receiver(
        settingsFor(ceph, "episodes", { endpoint: nginx.url, tls: { ca } }),
      );
      const refused = await withoutCert.send(parcelOf(file, { episodeId: "t5" }));
      withoutCert.close();
      assertEquals(refused.class, "credentials");
      const got = await curlS3(ceph, "GET", "/episodes/lab/lab-01/t4.tar.gz");
      assertEquals(got.body, file.bytes);
    },
  );

  await Deno.remove(dir, { recursive: true });
});
