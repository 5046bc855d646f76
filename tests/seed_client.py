#!/usr/bin/env python3
"""A client that speaks to the host exactly as the seed's client does.

Its socket calls follow the seed document's `upload_file()` and `download_file()` step for step
(same commands, one recv(1024) for each reply, 8 KB chunks, send() of each chunk, close right
after the last byte); only the Qt dialogs are left out. Written from the spec, for testing.

usage: seed_client.py upload HOST PORT CLIENT_ID USERNAME PATH
       seed_client.py download HOST PORT FILE_ID SAVE_PATH
"""
import os
import socket
import sys

FILE_CHUNK_SIZE = 8192


def upload(host, port, client_id, username, file_path):
    filename = os.path.basename(file_path)
    filesize = os.path.getsize(file_path)
    file_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    file_socket.connect((host, port))
    upload_cmd = f"UPLOAD:{client_id}:{username}:{filename}:{filesize}\n"
    file_socket.send(upload_cmd.encode('utf-8'))
    response = file_socket.recv(1024).decode('utf-8').strip()
    if response != "READY":
        raise Exception(f"Server not ready: {response}")
    bytes_sent = 0
    with open(file_path, 'rb') as f:
        while True:
            chunk = f.read(FILE_CHUNK_SIZE)
            if not chunk:
                break
            file_socket.send(chunk)
            bytes_sent += len(chunk)
    file_socket.close()
    print(f"uploaded {filename} {bytes_sent}")


def download(host, port, file_id, save_path):
    file_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    file_socket.connect((host, port))
    download_cmd = f"DOWNLOAD:{file_id}\n"
    file_socket.send(download_cmd.encode('utf-8'))
    response = file_socket.recv(1024).decode('utf-8').strip()
    if response.startswith("ERROR:"):
        raise Exception(response.split(":", 1)[1])
    if not response.startswith("FILE:"):
        raise Exception(f"Unexpected response: {response}")
    parts = response.split(":", 2)
    received_filename = parts[1]
    received_filesize = int(parts[2])
    file_socket.send("READY\n".encode('utf-8'))
    bytes_received = 0
    with open(save_path, 'wb') as f:
        while bytes_received < received_filesize:
            chunk_size = min(FILE_CHUNK_SIZE, received_filesize - bytes_received)
            chunk = file_socket.recv(chunk_size)
            if not chunk:
                raise Exception("Connection closed before transfer complete")
            f.write(chunk)
            bytes_received += len(chunk)
    file_socket.close()
    print(f"downloaded {received_filename} {bytes_received}")


if __name__ == "__main__":
    try:
        if sys.argv[1] == "upload":
            upload(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6])
        else:
            download(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    except Exception as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
