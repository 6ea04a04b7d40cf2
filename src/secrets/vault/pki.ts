// pki/issue/ROLE through the adapter: the one call a certificate's lifetime makes.
import type { IssuedCertificate, Issue } from '../../lifetime/certificate';
import { invalid, notFound } from '../errors';
import { encodePath, type VaultClient, VaultHttpError } from './client';

export function vaultIssue(client: () => VaultClient): Issue {
  return async (path, body) => {
    let answer: { data?: IssuedCertificate; warnings?: string[] | null };
    try {
      answer = (await client().call('POST', encodePath(path), { body })) as typeof answer;
    } catch (error) {
      // 400: an unknown role or a name the role does not allow; 404: no such mount.
      if (error instanceof VaultHttpError) throw (error.status === 404 ? notFound : invalid)(`Vault answered ${error.status} to POST /v1/${path}: ${error.message}`);
      throw error; // a SecretError already: denied or unavailable
    }
    if (!answer?.data?.certificate || !answer.data.private_key) throw invalid(`Vault's answer to POST /v1/${path} has no certificate and private_key`);
    return answer.data;
  };
}
